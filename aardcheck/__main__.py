from aardcheck.cli import main

main()
