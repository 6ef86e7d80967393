variable "table_name" {
  description = "Name of the items table."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "A DynamoDB table name is 3 to 255 characters of A-Z, a-z, 0-9, '_', '-' and '.'."
  }
}

variable "deletion_protection" {
  description = "Whether the table refuses to be deleted (turn off only to tear a stack down)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the table, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
