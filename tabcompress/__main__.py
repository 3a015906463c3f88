"""``python -m tabcompress`` runs the same CLI as the ``tabcompress`` console script."""

from tabcompress.cli.app import console_main

if __name__ == "__main__":
    console_main()
