from closing.cli import main

main()
