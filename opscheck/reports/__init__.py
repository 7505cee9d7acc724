"""Report writers, one class per format; they run only on the xdist controller."""
