from exness.cli import main

main()
