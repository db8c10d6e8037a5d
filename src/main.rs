#![forbid(unsafe_code)]

// regorus allocates for nearly every step of an evaluation; glibc's malloc made allocation a
// quarter of a large scan's instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    amlaudit::cli::main()
}
