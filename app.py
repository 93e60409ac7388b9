"""Example app. The AsyncInvokeConfig construct is being built (issue 3); until then the stack is empty."""

import aws_cdk as cdk

app = cdk.App()
cdk.Stack(app, "AsyncInvokeConfigExample")
app.synth()
