terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.25.0"
    }
  }

  # Its own state object in the same bucket, e.g. key=items-api/bootstrap.tfstate.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
