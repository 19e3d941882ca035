// WeCom (企业微信) self-built application callback at /wecom/callback. GET verifies the URL (signature
// over echostr, decrypt, answer the plain text). POST carries encrypted XML: signature checked, AES
// decrypted, receive id checked against the corp id, the inner XML parsed with pugixml (documents with
// a DTD are refused: no external entity, no entity expansion). A text message runs its turn and the
// answer goes back as a passive encrypted reply; an image is recorded as evidence; events and unknown
// types are acknowledged and ignored. A repeated MsgId runs no second turn.
#pragma once

#include <string>

#include "bot/channels/platform.h"
#include "bot/env.h"

namespace httplib { class Server; }

namespace rd {

class ConversationService;

// Registers the routes when WeCom is configured; otherwise they do not exist (404). Fails (false, with
// `error`) on a malformed EncodingAESKey.
bool RegisterWeComRoutes(httplib::Server& server, const WeComSettings& settings, ConversationService* service,
                         Random* random, std::string* error);

}  // namespace rd
