#include "bot/channels/intake.h"

namespace rd {

WebhookIntake WebhookIntake::Answered(HttpResponse response) {
  WebhookIntake in;
  in.answer = std::move(response);
  return in;
}

HttpResponse EmptyAcknowledgement() {
  HttpResponse r;
  r.content_type = "text/plain";
  return r;
}

HttpResponse RunWebhookIntake(const WebhookIntake& in, ConversationService* service,
                              const std::function<HttpResponse(const InboundMessage&, const TurnOutcome&)>& render) {
  switch (in.kind) {
    case WebhookIntake::Kind::kAnswer:
      return in.answer;
    case WebhookIntake::Kind::kTurn:
      return render(in.message, service->HandleChannelMessage(in.message));
    case WebhookIntake::Kind::kFiles:
      break;
  }
  TurnOutcome last;
  const InboundMessage* last_message = &in.message;
  for (const ChannelFile& f : in.files) {
    last = service->HandleChannelFile(f.message, f.file, f.download);
    last_message = &f.message;
    if (!last.status.ok()) break;
  }
  if (!last.status.ok() || in.message.text.empty()) return render(*last_message, last);
  return render(in.message, service->HandleChannelMessage(in.message));
}

}  // namespace rd
