terraform {
  # 1.10: the S3 backend's own lock file (use_lockfile), no DynamoDB lock table.
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.25"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # Bucket, key and region come at init:
  #   terraform init -backend-config="bucket=..." -backend-config="key=items-api/terraform.tfstate" -backend-config="region=..."
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
