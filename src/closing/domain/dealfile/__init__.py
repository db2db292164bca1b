"""The deal file, cut by job: `fields` (the value types every part shares), `schema` (the deal's
terms and purchasers), `alert_rules`, `notify_urls` (no literal secret in a notification URL),
`located` (the line of every key and the problems found), `yaml_reader` (the hardened YAML reader),
`checks` (the cross-checks) and `load` (`load_deal_file`: every problem at once, as
`path:line: message`)."""
