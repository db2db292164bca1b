from closing.cli import run

run()
