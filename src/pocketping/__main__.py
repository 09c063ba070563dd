from pocketping.wiring import main

main()
