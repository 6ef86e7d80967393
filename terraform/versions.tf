terraform {
  # 1.11: the S3 backend's own lock file (use_lockfile) is generally available from 1.11 (1.10
  # had it as an experiment); imports.tf's import blocks with for_each need 1.7, and validations
  # that read other variables 1.9.
  required_version = ">= 1.11.0"

  # Exactly the versions whose schemas scripts/offline-checks validates this code against
  # (conformance/offline/package.json, "terraformProviders"); move both together.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.25.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.7.2"
    }
  }

  # Bucket, key and region come at init:
  #   terraform init -backend-config="bucket=..." -backend-config="key=items-api/terraform.tfstate" -backend-config="region=..."
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
