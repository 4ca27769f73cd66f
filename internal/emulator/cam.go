/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package emulator

// authorize plays the one part of CAM the emulator has: a seeded account's deniedActions. The
// real gateway refuses a denied action after the signature is verified and before the action
// looks at its parameters, so a denial says nothing about whether the image exists. The message
// follows Tencent's wording, naming the action as cvm:Action so that a client can tell the user
// which permission its policy lacks.
func authorize(c *call) *apiError {
	if !c.caller.denied[c.action] {
		return nil
	}
	region := c.region
	if region == "" {
		region = "*"
	}
	return errf(CodeCAMUnauthorized, "You are not authorized to perform this operation. Check your CAM policies, "+
		"and ensure that you are using the correct access keys. [[request id:%s]you are not authorized to perform "+
		"operation (cvm:%s)\nresource (qcs::cvm:%s:uin/%s:*) has no permission\n]",
		c.requestID, c.action, region, c.caller.id)
}
