# GitHub Actions deploys with short-lived credentials: the workflow's OIDC token is exchanged for
# this role's session. Trusted for one repository's deployment environment only; give that
# environment a deployment branch rule of `main` (and reviewers) in the repository's settings.
# The role can change the stack's resources and nothing else: not itself, not other roles.
data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region
  partition = data.aws_partition.current.partition
  oidc_url  = "https://token.actions.githubusercontent.com"
  oidc_arn  = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn
  role_name = coalesce(var.role_name, "${var.name}-deploy")
  subject   = "repo:${var.github_repository}:environment:${var.github_environment}"

  arn = {
    functions      = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-*"
    function_roles = "arn:${local.partition}:iam::${local.account}:role/${var.name}-*-function"
    table          = "arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${var.table_name}"
    bus            = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${var.name}"
    rules          = "arn:${local.partition}:events:${local.region}:${local.account}:rule/${var.name}/*"
    archives       = "arn:${local.partition}:events:${local.region}:${local.account}:archive/${var.name}*"
    log_groups     = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:"
    user_pools     = "arn:${local.partition}:cognito-idp:${local.region}:${local.account}:userpool/*"
    secrets        = "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${var.name}/*"
    dashboards     = "arn:${local.partition}:cloudwatch::${local.account}:dashboard/${var.name}-*"
    alarms         = "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${var.name}-*"
    topic          = "arn:${local.partition}:sns:${local.region}:${local.account}:${var.name}-alarms"
    keys           = "arn:${local.partition}:kms:${local.region}:${local.account}:key/*"
    key_aliases    = "arn:${local.partition}:kms:${local.region}:${local.account}:alias/${var.name}-*"
    apis           = "arn:${local.partition}:apigateway:${local.region}::/apis"
    state_bucket   = "arn:${local.partition}:s3:::${var.state_bucket}"
  }
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = local.oidc_url
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 0 : 1

  url = local.oidc_url
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "GitHubDeployEnvironment"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = [local.subject]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = local.role_name
  description          = "Deploys ${var.name} from ${var.github_repository} (${var.github_environment})."
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.arn.state_bucket]
  }

  statement {
    sid       = "StateObjectAndLock"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${local.arn.state_bucket}/${var.state_key}", "${local.arn.state_bucket}/${var.state_key}.tflock"]
  }

  statement {
    sid = "Functions"
    actions = [
      "lambda:AddPermission",
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:GetFunction",
      "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetFunctionConfiguration",
      "lambda:GetPolicy",
      "lambda:ListTags",
      "lambda:ListVersionsByFunction",
      "lambda:RemovePermission",
      "lambda:TagResource",
      "lambda:UntagResource",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
    ]
    resources = [local.arn.functions]
  }

  statement {
    sid = "FunctionRoles"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
      "iam:ListRoleTags",
      "iam:PutRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = [local.arn.function_roles]
  }

  statement {
    sid       = "PassFunctionRolesToLambda"
    actions   = ["iam:PassRole"]
    resources = [local.arn.function_roles]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }

  statement {
    sid       = "ApiGatewayServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account}:role/aws-service-role/ops.apigateway.amazonaws.com/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["ops.apigateway.amazonaws.com"]
    }
  }

  statement {
    # API ids are assigned by API Gateway: the region's /apis is the narrowest scope.
    sid       = "HttpApi"
    actions   = ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"]
    resources = [local.arn.apis, "${local.arn.apis}/*", "arn:${local.partition}:apigateway:${local.region}::/tags/*"]
  }

  statement {
    sid = "ItemsTable"
    actions = [
      "dynamodb:CreateTable",
      "dynamodb:DeleteTable",
      "dynamodb:DescribeContinuousBackups",
      "dynamodb:DescribeKinesisStreamingDestination",
      "dynamodb:DescribeTable",
      "dynamodb:DescribeTimeToLive",
      "dynamodb:ListTagsOfResource",
      "dynamodb:TagResource",
      "dynamodb:UntagResource",
      "dynamodb:UpdateContinuousBackups",
      "dynamodb:UpdateTable",
      "dynamodb:UpdateTimeToLive",
    ]
    resources = [local.arn.table]
  }

  statement {
    sid = "EventBusRuleAndArchive"
    actions = [
      "events:CreateArchive",
      "events:CreateEventBus",
      "events:DeleteArchive",
      "events:DeleteEventBus",
      "events:DeleteRule",
      "events:DescribeArchive",
      "events:DescribeEventBus",
      "events:DescribeRule",
      "events:ListTagsForResource",
      "events:ListTargetsByRule",
      "events:PutRule",
      "events:PutTargets",
      "events:RemoveTargets",
      "events:TagResource",
      "events:UntagResource",
      "events:UpdateArchive",
      "events:UpdateEventBus",
    ]
    resources = [local.arn.bus, local.arn.rules, local.arn.archives]
  }

  statement {
    sid = "LogGroups"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:DeleteRetentionPolicy",
      "logs:ListTagsForResource",
      "logs:ListTagsLogGroup",
      "logs:PutRetentionPolicy",
      "logs:TagLogGroup",
      "logs:TagResource",
      "logs:UntagLogGroup",
      "logs:UntagResource",
    ]
    resources = [
      "${local.arn.log_groups}/aws/lambda/${var.name}-*",
      "${local.arn.log_groups}/aws/events/${var.name}",
      "${local.arn.log_groups}/aws/events/${var.name}:*",
      "${local.arn.log_groups}/aws/apigateway/${var.name}",
      "${local.arn.log_groups}/aws/apigateway/${var.name}:*",
    ]
  }

  statement {
    sid       = "ListLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.arn.log_groups}*"]
  }

  statement {
    # Log resource policies (EventBridge to the archive) and log deliveries (the HTTP API's
    # access logs) have no resource-level permissions: "*" is the narrowest resource.
    sid = "LogPoliciesAndDeliveries"
    actions = [
      "logs:CreateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:DeleteResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:GetLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:UpdateLogDelivery",
    ]
    resources = ["*"]
  }

  statement {
    # A user pool's ARN exists only after CreateUserPool, and domains have no ARN: "*" is the
    # narrowest resource for these two.
    sid       = "CreateUserPoolAndReadDomain"
    actions   = ["cognito-idp:CreateUserPool", "cognito-idp:DescribeUserPoolDomain"]
    resources = ["*"]
  }

  statement {
    sid = "UserPool"
    actions = [
      "cognito-idp:CreateUserPoolClient",
      "cognito-idp:CreateUserPoolDomain",
      "cognito-idp:DeleteUserPool",
      "cognito-idp:DeleteUserPoolClient",
      "cognito-idp:DeleteUserPoolDomain",
      "cognito-idp:DescribeUserPool",
      "cognito-idp:DescribeUserPoolClient",
      "cognito-idp:GetUserPoolMfaConfig",
      "cognito-idp:ListTagsForResource",
      "cognito-idp:SetUserPoolMfaConfig",
      "cognito-idp:TagResource",
      "cognito-idp:UntagResource",
      "cognito-idp:UpdateUserPool",
      "cognito-idp:UpdateUserPoolClient",
      "cognito-idp:UpdateUserPoolDomain",
    ]
    resources = [local.arn.user_pools]
  }

  statement {
    sid = "ConfigSecret"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "secretsmanager:GetSecretValue",
      "secretsmanager:ListSecretVersionIds",
      "secretsmanager:PutSecretValue",
      "secretsmanager:TagResource",
      "secretsmanager:UntagResource",
      "secretsmanager:UpdateSecret",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [local.arn.secrets]
  }

  statement {
    sid       = "Dashboards"
    actions   = ["cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard", "cloudwatch:PutDashboard"]
    resources = [local.arn.dashboards]
  }

  statement {
    sid = "Alarms"
    actions = [
      "cloudwatch:DeleteAlarms",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListTagsForResource",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
    ]
    resources = [local.arn.alarms]
  }

  statement {
    sid = "AlarmTopic"
    actions = [
      "sns:CreateTopic",
      "sns:DeleteTopic",
      "sns:GetSubscriptionAttributes",
      "sns:GetTopicAttributes",
      "sns:ListSubscriptionsByTopic",
      "sns:ListTagsForResource",
      "sns:SetSubscriptionAttributes",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
      "sns:TagResource",
      "sns:Unsubscribe",
      "sns:UntagResource",
    ]
    resources = [local.arn.topic, "${local.arn.topic}:*"]
  }

  statement {
    # A key's ARN exists only after CreateKey, and ListAliases has no resource: "*" is the
    # narrowest resource for these two.
    sid       = "CreateKeyAndListAliases"
    actions   = ["kms:CreateKey", "kms:ListAliases"]
    resources = ["*"]
  }

  statement {
    sid = "AlarmTopicKey"
    actions = [
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:EnableKeyRotation",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = [local.arn.keys, local.arn.key_aliases]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy-${var.name}"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
