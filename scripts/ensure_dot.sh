#!/bin/sh
# Install Graphviz's `dot` program when it is missing (used by tinygrad_memo.viz).
# Everything that does not draw pictures works without it.
command -v dot >/dev/null 2>&1 && exit 0
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = "0" ] || [ -n "$SUDO" ]; }; then
  echo "Installing Graphviz (dot) with apt-get..."
  $SUDO apt-get install -y -qq graphviz >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq graphviz >/dev/null 2>&1; }
elif command -v brew >/dev/null 2>&1; then
  echo "Installing Graphviz (dot) with brew..."
  brew install graphviz >/dev/null 2>&1
fi
command -v dot >/dev/null 2>&1 && exit 0
echo "Graphviz's dot is missing: install it with 'sudo apt-get install graphviz' or 'brew install graphviz' (only pictures need it)."
exit 0
