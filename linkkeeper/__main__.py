from linkkeeper.cli import main

main()
