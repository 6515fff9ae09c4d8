from twinledger.cli import main

main()
