#[cfg(not(madsim))]
compile_error!(
    "the shardsim binary simulates only under `--cfg madsim`. Build it inside this workspace \
     (its .cargo/config.toml sets the flag), or, if you set RUSTFLAGS yourself, add `--cfg madsim` to them."
);

fn main() {}
