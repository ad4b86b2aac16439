"""``python -m gansuite`` (also what ``torchrun -m gansuite`` runs)."""

from gansuite.cli import main

if __name__ == "__main__":
    main()
