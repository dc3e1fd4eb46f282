from labtasker_tui.cli.entry import main

main()
