"""The test harness: shared fixtures (plugins of ``tests/conftest.py``), throwaway servers, a kernel driver."""
