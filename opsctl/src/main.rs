use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = opsctl::cli::Cli::parse();
    match opsctl::run(cli).await {
        Ok(out) => {
            print!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("opsctl: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
