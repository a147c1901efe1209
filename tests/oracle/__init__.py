"""Tests that ask the real aardvark-dns binary, plus the fixture-case loader they share."""
