//! The AWS SDK's configuration: the SDK's usual chain (environment, profile, SSO, instance role)
//! for credentials and region, with `--endpoint-url` and `--region` on top.

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::cli::AwsArgs;

pub async fn sdk_config(args: &AwsArgs) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// The region of `sdk`, or an error that says how to set one.
pub fn region(sdk: &SdkConfig) -> Result<String, crate::Error> {
    sdk.region()
        .map(|r| r.as_ref().to_owned())
        .ok_or_else(|| "no AWS region: set AWS_REGION, a profile's region, or --region".into())
}
