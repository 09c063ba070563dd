from pocketping.cli import main

main()
