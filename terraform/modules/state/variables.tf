variable "bucket_name" {
  description = "Name of the state bucket (globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name is an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens."
  }
}

variable "noncurrent_version_days" {
  description = "Days an old version of a state object is kept (the newest 10 old versions are always kept)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days is a whole number of days, 1 or more."
  }
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}
