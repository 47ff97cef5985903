/**
 * Authentication context classes of the built-in server (`acr`): password + TOTP, or password +
 * recovery code (S7: a recovery code yields no `otp`). The authz stage names ACR_MFA in step-up
 * challenges (RFC 9470).
 */
export const ACR_MFA = 'urn:rampart:acr:mfa';
export const ACR_RECOVERY = 'urn:rampart:acr:recovery';
