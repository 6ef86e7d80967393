variable "name" {
  description = "Name of the user pool."
  type        = string

  validation {
    condition     = length(var.name) >= 1 && length(var.name) <= 128
    error_message = "A user pool name is 1 to 128 characters."
  }
}

variable "domain_prefix" {
  description = "Prefix of the Hosted UI domain, <prefix>.auth.<region>.amazoncognito.com (unique in the region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.domain_prefix)) && !can(regex("aws|amazon|cognito", var.domain_prefix))
    error_message = "A domain prefix is lowercase letters, digits and hyphens, at most 63, without aws, amazon or cognito."
  }
}

variable "callback_urls" {
  description = "Where the Hosted UI may send users back after sign-in (https, or http://localhost)."
  type        = list(string)

  validation {
    condition     = length(var.callback_urls) > 0 && alltrue([for u in var.callback_urls : can(regex("^(https://|http://localhost[:/])", u))])
    error_message = "At least one callback URL; each is https:// or http://localhost."
  }
}

variable "logout_urls" {
  description = "Where the Hosted UI may send users after sign-out (https, or http://localhost)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.logout_urls : can(regex("^(https://|http://localhost[:/])", u))])
    error_message = "Each logout URL is https:// or http://localhost."
  }
}

variable "password_minimum_length" {
  description = "Shortest accepted password."
  type        = number
  default     = 12

  validation {
    condition     = var.password_minimum_length >= 8 && var.password_minimum_length <= 99
    error_message = "Cognito accepts a minimum length from 8 to 99; use at least 12."
  }
}

variable "self_sign_up" {
  description = "Whether anyone may sign up in the Hosted UI (false: administrators create users)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Whether the user pool refuses to be deleted."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the user pool, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
