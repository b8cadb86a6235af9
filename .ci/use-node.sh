# Sourced by .ci/run: Node 22 or later first on PATH (package.json `engines`; @pulumi/pulumi requires >=22). A machine
# with an older Node (the CI machine ships Node 20) gets Node 24 from the npm registry: the `node` package, installed
# once into a cache directory.
node_major() {
    local version
    version="$(node --version 2>/dev/null)" || version=v0
    version="${version#v}"
    echo "${version%%.*}"
}
if [ "$(node_major)" -lt 22 ]; then
    node_prefix="${OMNI_SCALE_NODE_PREFIX:-$HOME/.cache/omni-scale-node}"
    if [ ! -x "$node_prefix/node_modules/.bin/node" ]; then
        echo "Node $(node --version 2>/dev/null || echo "(none)") is too old: installing Node 24 into $node_prefix" >&2
        npm install --prefix "$node_prefix" --no-save --no-audit --no-fund node@24 >&2
    fi
    export PATH="$node_prefix/node_modules/.bin:$PATH"
fi
if [ "$(node_major)" -lt 22 ]; then
    echo "Node 22 or later is required (package.json engines), found $(node --version 2>/dev/null || echo none)" >&2
    exit 1
fi
echo "Node $(node --version)" >&2
