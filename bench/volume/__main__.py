from bench.volume.cli import main

raise SystemExit(main())
