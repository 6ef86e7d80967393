variable "secret_name" {
  description = "Name of the configuration secret."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]{1,512}$", var.secret_name))
    error_message = "A secret name is 1 to 512 characters of A-Z, a-z, 0-9 and /_+=.@-."
  }
}

variable "key_bytes" {
  description = "Length in bytes of the generated cursor signing key."
  type        = number
  default     = 32

  validation {
    condition     = var.key_bytes >= 32 && var.key_bytes <= 128 && floor(var.key_bytes) == var.key_bytes
    error_message = "A cursor signing key is 32 to 128 bytes (the functions refuse fewer than 32)."
  }
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once)."
  type        = number
  default     = 7

  validation {
    condition     = var.recovery_window_days == 0 || (var.recovery_window_days >= 7 && var.recovery_window_days <= 30)
    error_message = "Secrets Manager accepts 0, or 7 to 30 days."
  }
}

variable "tags" {
  description = "Tags for the secret, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
