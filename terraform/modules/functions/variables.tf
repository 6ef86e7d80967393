variable "name_prefix" {
  description = "Prefix of the function names (<prefix>-items, <prefix>-public, <prefix>-item-events) and of the dead-letter queue's."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,50}$", var.name_prefix))
    error_message = "name_prefix is 1 to 50 characters of A-Z, a-z, 0-9, '_' and '-' (function names are at most 64)."
  }
}

variable "artifacts_dir" {
  description = "Folder with <function>/bootstrap.zip, as cargo lambda build --output-format zip writes them (target/lambda)."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the functions; the zips must be built for it (cargo lambda build --arm64)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture is arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory of each function, in MB (CPU grows with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "Lambda memory is a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Timeout of each function, in seconds: short, API Gateway gives up after 30."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 29 && floor(var.timeout) == var.timeout
    error_message = "timeout is a whole number of seconds from 1 to 29 (the HTTP API's integration timeout is 30)."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level is one of TRACE, DEBUG, INFO, WARN, ERROR."
  }
}

variable "system_log_level" {
  description = "Level of Lambda's own records in the functions' log groups: WARN writes none for a successful invocation; INFO adds START and REPORT (duration, memory, init) to every invocation, at their bytes' price."
  type        = string
  default     = "WARN"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level is one of Lambda's system log levels: DEBUG, INFO, WARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups, in days."
  type        = number
  default     = 7

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "CloudWatch Logs accepts only its listed retention periods (1, 3, 5, 7, 14, 30, ... days)."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' EMF metrics."
  type        = string

  validation {
    condition     = length(var.metrics_namespace) > 0 && length(var.metrics_namespace) <= 255 && !startswith(var.metrics_namespace, "AWS/")
    error_message = "A custom metrics namespace is 1 to 255 characters and does not start with AWS/."
  }
}

variable "table_name" {
  description = "Name of the items table."
  type        = string
}

variable "table_arn" {
  description = "ARN of the items table: the only table the items function may touch."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/", var.table_arn))
    error_message = "table_arn must be a DynamoDB table ARN."
  }
}

variable "event_bus_name" {
  description = "Name of the project's event bus."
  type        = string
}

variable "event_bus_arn" {
  description = "ARN of the project's event bus: the only bus the items and item-events functions may put events on."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/", var.event_bus_arn))
    error_message = "event_bus_arn must be an EventBridge event bus ARN."
  }
}

variable "config_secret_arn" {
  description = "ARN of the configuration secret (also the functions' CONFIG_SECRET_ID)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", var.config_secret_arn))
    error_message = "config_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "config_secret_ttl_seconds" {
  description = "Seconds a function keeps the secret before reading it again."
  type        = number
  default     = 300

  validation {
    condition     = var.config_secret_ttl_seconds >= 1 && floor(var.config_secret_ttl_seconds) == var.config_secret_ttl_seconds
    error_message = "config_secret_ttl_seconds is a whole number of seconds, 1 or more."
  }
}

variable "tags" {
  description = "Tags for the functions, roles and log groups, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}

variable "permissions_boundary_arn" {
  description = "ARN of the managed policy every function role carries as its permissions boundary (made by terraform/bootstrap, not by this stack, so the pipeline cannot widen it)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn is the ARN of an IAM managed policy."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency by function key (items, public, item-events); a function not named is unreserved. Reserving takes from the account's pool, which must keep 100 unreserved (10 on a new account's quota of 10)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for key, n in var.reserved_concurrency : contains(["items", "public", "item-events"], key) && n >= 0 && floor(n) == n])
    error_message = "reserved_concurrency maps items, public or item-events to a whole number, 0 or more."
  }
}

variable "table_stream_arn" {
  description = "ARN of the items table's stream: what the item-events function reads, and the only stream it may."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[^/]+/stream/.+$", var.table_stream_arn))
    error_message = "table_stream_arn must be a DynamoDB stream ARN (table/<name>/stream/<label>)."
  }
}

variable "item_events_filter" {
  description = "The event source mapping's filter pattern, as JSON (events/item-events.filter.json)."
  type        = string

  validation {
    condition     = can(jsondecode(var.item_events_filter))
    error_message = "item_events_filter is a JSON filter pattern."
  }
}

variable "item_events_mapping" {
  description = "Batching and retries of the stream's event source mapping (the root variables item_events_*, validated there)."
  type = object({
    batch_size                 = number
    batching_window_seconds    = number
    maximum_retry_attempts     = number
    maximum_record_age_seconds = number
  })
}
