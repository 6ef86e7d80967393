variable "name" {
  description = "Name of the HTTP API (and of its access log group)."
  type        = string

  validation {
    condition     = length(var.name) >= 1 && length(var.name) <= 128
    error_message = "An API name is 1 to 128 characters."
  }
}

variable "functions" {
  description = "The functions behind the routes, by key (items, public): name and invoke ARN."
  type = map(object({
    function_name = string
    invoke_arn    = string
  }))

  validation {
    condition     = contains(keys(var.functions), "items") && contains(keys(var.functions), "public")
    error_message = "The routes need the items and public functions."
  }
}

variable "jwt_issuer" {
  description = "Issuer of the accepted JWTs: https://cognito-idp.<region>.amazonaws.com/<user pool id>."
  type        = string

  validation {
    condition     = startswith(var.jwt_issuer, "https://")
    error_message = "jwt_issuer is an https URL."
  }
}

variable "jwt_audience" {
  description = "Accepted audiences of the JWTs: the app client ids."
  type        = list(string)

  validation {
    condition     = length(var.jwt_audience) > 0
    error_message = "At least one audience (the app client id)."
  }
}

variable "throttle_rate" {
  description = "Stage throttling: steady requests per second (the twin's --throttle-rate)."
  type        = number
  default     = 50

  validation {
    condition     = var.throttle_rate > 0
    error_message = "throttle_rate must be above 0 (0 answers every request 429)."
  }
}

variable "throttle_burst" {
  description = "Stage throttling: burst (the twin's --throttle-burst)."
  type        = number
  default     = 100

  validation {
    condition     = var.throttle_burst >= 1 && floor(var.throttle_burst) == var.throttle_burst
    error_message = "throttle_burst must be a whole number, 1 or more (0 answers every request 429)."
  }
}

variable "cors_allow_origins" {
  description = "Origins allowed by CORS (e.g. https://app.example.com); empty: no CORS configuration."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allow_origins : o == "*" || can(regex("^https?://[^/]+$", o))])
    error_message = "Each origin is scheme://host[:port] without a path, or *."
  }
}

variable "log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
  default     = 7

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "CloudWatch Logs accepts only its listed retention periods (1, 3, 5, 7, 14, 30, ... days)."
  }
}

variable "tags" {
  description = "Tags for the API, stage and log group, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
