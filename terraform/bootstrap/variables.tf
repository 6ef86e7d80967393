variable "region" {
  description = "AWS region of the stack (the same as the stack's region)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region is an AWS region name such as us-east-1."
  }
}

variable "name" {
  description = "Name of the stack the role deploys (the stack's name variable)."
  type        = string
  default     = "items-api"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name is 3 to 32 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "items_table_name" {
  description = "Name of the stack's items table (the stack's items_table_name variable)."
  type        = string
  default     = "items"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.items_table_name))
    error_message = "A DynamoDB table name is 3 to 255 characters of A-Z, a-z, 0-9, '_', '-' and '.'."
  }
}

variable "github_repository" {
  description = "The repository whose workflows may assume the plan and apply roles, as OWNER/NAME."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "github_repository is OWNER/NAME."
  }
}

variable "github_environment" {
  description = "The repository's deployment environment whose jobs may assume the apply role (limit it to the main branch, with reviewers)."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,255}$", var.github_environment))
    error_message = "github_environment is an environment name without spaces or colons."
  }
}

variable "create_oidc_provider" {
  description = "Whether to create the account's GitHub OIDC provider (false when the account has one)."
  type        = bool
  default     = true
}

variable "main_branch" {
  description = "The branch whose pushes plan with the plan role (pull requests plan too)."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,255}$", var.main_branch))
    error_message = "main_branch is a branch name without spaces or colons."
  }
}

variable "state_bucket" {
  description = "Name of the state bucket this stack makes (globally unique); null: <name>-tfstate-<account id>."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.state_bucket, "-")))
    error_message = "state_bucket is an S3 bucket name, or null."
  }
}

variable "state_key" {
  description = "Key of the stack's state object (the deploy workflow's backend key)."
  type        = string
  default     = "items-api/terraform.tfstate"

  validation {
    condition     = length(var.state_key) > 0 && !startswith(var.state_key, "/")
    error_message = "state_key is an object key, not starting with /."
  }
}
