"""llama.cpp's llama-server for the tests: the build script, the tiny model, the server fixture."""
