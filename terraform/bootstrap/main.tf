# Applied by an administrator, with credentials of their own, before the first deployment and
# whenever the pipeline's identity changes: the state bucket, the GitHub OIDC provider, the plan
# and apply roles and the permissions boundary of the stack's roles. The pipeline cannot change
# anything made here (the apply role is denied its own roles and the boundary), so the trust and
# the permissions change only through a reviewed, manual apply. terraform/README.md has the steps.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

locals {
  state_bucket = coalesce(var.state_bucket, "${var.name}-tfstate-${data.aws_caller_identity.current.account_id}")
}

module "state" {
  source = "../modules/state"

  bucket_name = local.state_bucket
}

module "ci" {
  source = "../modules/ci"

  name                 = var.name
  table_name           = var.items_table_name
  github_repository    = var.github_repository
  github_environment   = var.github_environment
  main_branch          = var.main_branch
  create_oidc_provider = var.create_oidc_provider
  state_bucket         = module.state.bucket_name
  state_key            = var.state_key
}
