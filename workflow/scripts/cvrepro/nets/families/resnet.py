"""torchvision's ResNets, ResNeXts and wide ResNets (resnet18/34/50 by those names are cvrepro's own copy with a width knob and a CIFAR stem: cvrepro.nets.models)."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="fc", stages=("conv1", "layer1", "layer2", "layer3", "layer4"))
