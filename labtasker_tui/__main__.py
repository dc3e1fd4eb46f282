from labtasker_tui.cli.main import main

main()
