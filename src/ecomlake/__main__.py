from ecomlake.cli.main import main

main()
