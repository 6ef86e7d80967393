variable "name" {
  description = "Name of the stack the role deploys (the root module's name): resource names start with it."
  type        = string
  default     = "items-api"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name is 3 to 32 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "table_name" {
  description = "Name of the stack's items table."
  type        = string
  default     = "items"
}

variable "github_repository" {
  description = "The repository whose workflows may assume the roles, as OWNER/NAME."
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
  description = "Whether to create the account's GitHub OIDC provider (false: one already exists; an account has one per URL)."
  type        = bool
  default     = true
}

variable "main_branch" {
  description = "The branch whose pushes may plan with the plan role (besides pull requests)."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,255}$", var.main_branch))
    error_message = "main_branch is a branch name without spaces or colons."
  }
}

variable "state_bucket" {
  description = "S3 bucket of the Terraform state (the backend's bucket)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket is an S3 bucket name."
  }
}

variable "state_key" {
  description = "Key of the stack's state object in the bucket (the backend's key)."
  type        = string
  default     = "items-api/terraform.tfstate"

  validation {
    condition     = length(var.state_key) > 0 && !startswith(var.state_key, "/")
    error_message = "state_key is an object key, not starting with /."
  }
}

variable "tags" {
  description = "Tags for the roles, the boundary and the OIDC provider."
  type        = map(string)
  default     = {}
}
