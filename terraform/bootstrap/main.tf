# Applied once, by an administrator, before the first deployment: the GitHub OIDC provider and
# the role the deploy workflow assumes. The workflow cannot change this stack (the role has no
# rights on itself), so its trust and permissions change only through a reviewed, manual apply.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "terraform"
    }
  }
}

module "ci" {
  source = "../modules/ci"

  name                 = var.name
  table_name           = var.items_table_name
  github_repository    = var.github_repository
  github_environment   = var.github_environment
  create_oidc_provider = var.create_oidc_provider
  state_bucket         = var.state_bucket
  state_key            = var.state_key
}
