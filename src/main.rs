fn main() -> std::process::ExitCode {
    amlaudit::cli::main()
}
