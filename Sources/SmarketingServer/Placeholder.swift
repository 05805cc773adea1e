public enum _SmarketingServerPlaceholder {}
