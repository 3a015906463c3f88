"""``python -m tabcompress`` runs the same CLI as the ``tabcompress`` console script."""

from tabcompress.cli import main

if __name__ == "__main__":
    main()
