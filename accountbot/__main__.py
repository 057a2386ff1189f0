from accountbot.cli import main

raise SystemExit(main())
