"""`python -m gigcx` is the same as the `gigcx` command."""
from gigcx.entry import main

main()
