from orbitlink.flowgraphs.cli import main

raise SystemExit(main())
