from bertgan.cli import main

raise SystemExit(main())
