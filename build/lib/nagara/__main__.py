from nagara.cli import main

main()
