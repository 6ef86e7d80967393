terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.25.0"
    }
  }

  # Its own state object in the bucket it makes, e.g. key=items-api/bootstrap.tfstate. The
  # first apply runs with local state (the bucket does not exist yet), then moves it there:
  # terraform/README.md has the commands.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
