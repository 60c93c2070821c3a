# Everyday recipes. Nothing requires `just`: each recipe is the plain command
# shown, runnable by hand (see README.md). Get just with `npm install -g rust-just`
# or `apt-get install just` (Debian 13+).

# Train the default experiments.yaml, then write the report.
demo:
    go run ./cmd/tinyscale run && go run ./cmd/tinyscale report

# Run the test suite (exactly what CI runs).
test:
    go test ./...

# Expand and validate experiments.yaml without training.
plan file="experiments.yaml":
    go run ./cmd/tinyscale plan -f {{file}}

# Show progress of the runs in the results database.
status:
    go run ./cmd/tinyscale status

# Regenerate the report folder from the database.
report:
    go run ./cmd/tinyscale report

# Go benchmarks for kernels, store writes and BLAS.
bench:
    go test -run '^$' -bench . -benchmem ./...

# Time a training step of the paper's 0.8M Silia (see docs/performance.md).
bench-silia:
    go run ./cmd/tinyscale bench --family silia --n-embd 64 --n-head 4 --n-layer 2 --vocab 8192 --block 256 --batch 16 --steps 20 --json

# The PyTorch twin of bench-silia (Debian python3-torch).
bench-torch:
    /usr/bin/python3 tools/torch_bench.py --family silia --n-embd 64 --n-head 4 --n-layer 2 --vocab 8192 --block 256 --batch 16 --steps 20

# Regenerate the PyTorch golden files used by the model parity tests.
goldens:
    /usr/bin/python3 tools/make_goldens.py

# Format and vet.
lint:
    gofmt -l . && go vet ./...

# What CI runs.
ci:
    .ci/run
